## Shared texts: welcome, help, language, errors.

welcome =
    您好！这里是「净土」——日喀则市生态环境局的环境监督助手。
    看到污染，随手举报：我们会把您的举报立即转给所在网格的网格员，并告诉您处理进展。

    请选择语言 / སྐད་ཡིག་འདེམས་རོགས། / Choose your language:
help =
    可用命令：
    /report — 举报污染
    /mycases — 我的举报
    /case 编号 — 查看一个案件
    /language — 更换语言
    /cancel — 退出当前对话
    /help — 显示本帮助
    /subscribe、/unsubscribe、/settings — 订阅环境公报与宣传活动
    网格员：/join 邀请码 绑定网格，/inbox 查看待办案件。
    也可以直接发送“举报”开始举报；有按钮的问题，输入选项的序号即可作答。
    紧急情况请拨打 12369 环保热线。
language-choose = 请选择语言：
language-set = 好的，今后使用中文与您交流。
cancelled = 已退出当前对话。
nothing-to-cancel = 当前没有进行中的对话。
idle-hint = 想举报污染，请发送 /report；查看全部命令，请发送 /help。
unknown-command = 没有 /{ $command } 这个命令。发送 /help 查看可用命令。
button-stale = 这个按钮已失效（可能来自之前的对话）。请发送 /help 重新开始。
not-an-answer = 这不是对当前问题的回答。请点击下方的按钮或输入它的序号；发送 /cancel 可退出。
choice-out-of-range = 这里没有第 { $number } 项：请输入 1 到 { $count } 之间的数字。可选项如下：
input-too-long = 消息太长了（最多 { $max } 个字符），请缩短后再发。
error-internal = 抱歉，系统出了点问题，您的操作没有保存。请稍后再试；紧急情况请拨打 12369。

button-cancel = ❌ 取消
button-back = ⬅️ 返回
button-skip = 跳过

## The command list shown in the chat client's menu.
command-report = 举报污染
command-mycases = 我的举报
command-case = 查看案件（/case 编号）
command-language = 更换语言
command-help = 帮助
command-cancel = 退出当前对话
