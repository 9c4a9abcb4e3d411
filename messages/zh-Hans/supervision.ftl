## 网格监督：邀请码、在聊天中办理案件、超时升级与回头看。

## 用邀请码加入为网格员。
sv-invite-bound =
    ✅ 您已成为「{ $cell }」的网格监督员。
    该网格的新案件会发到这里，并附有办理按钮。
    /inbox — 您的待办案件（超时的在前）
    /case 编号 — 查看一个案件、其办理记录和按钮
sv-invite-already = 您已经是「{ $cell }」的监督员。发送 /inbox 查看待办案件。
sv-invite-usage = 请在命令后加上邀请码，例如：/join ABCDE23456
sv-invite-invalid = 邀请码无效。请逐字核对（10 位字母和数字），或向生态环境局索取新的邀请码。
sv-invite-used = 该邀请码已被使用。请向生态环境局索取新的邀请码。
sv-invite-expired = 该邀请码已于 { $expired } 过期。请向生态环境局索取新的邀请码。
sv-invite-revoked = 该邀请码已被生态环境局撤销。请向生态环境局索取新的邀请码。
sv-invite-throttled = 此账号输错邀请码次数过多。为安全起见，请在 { $until } 之后再试。

## 待办与案件详情。
sv-not-supervisor = /inbox 仅供网格监督员使用。如果您是监督员，请发送生态环境局给您的邀请码：/join 邀请码
sv-inbox-empty = 您没有待办案件。🎉
sv-inbox-title = 您的待办案件（{ $count } 件，超时的在前）：
sv-inbox-line = { $overdue ->
        [yes] ⏰
       *[no] •
    } { $number } · { $category } · { $status } · { $cell }
sv-inbox-more = ……另有 { $more } 件。
sv-inbox-hint = 发送 /case 编号 查看并办理一个案件。
sv-case-detail =
    { $urgent ->
        [yes] 🚨 案件 { $number }（紧急）
       *[no] 案件 { $number }
    }
    类别：{ $category }
    状态：{ $status }
    地点：{ $cell }
    负责网格：{ $responsible }
    已升级至：{ $escalated }
    描述：{ $description }
    举报人数：{ $reporters }
    提交时间：{ $created }
    确认期限：{ $ack_due }
    办结期限：{ $resolve_due }
sv-not-escalated = 未升级
sv-timeline-title = 办理记录：
sv-event-created = 在「{ $cell }」提交
sv-event-assigned = 分派给「{ $cell }」
sv-event-joined = 又有居民举报
sv-event-acknowledge = 已确认接收
sv-event-transfer = 由「{ $from }」转办至「{ $cell }」
sv-event-escalate = 升级至「{ $cell }」
sv-event-overdue = 在最高一级「{ $cell }」超时
sv-event-resolve = 已办结
sv-event-close = 已关闭
sv-event-reopen = 重新打开：居民反映问题未解决
sv-event-reject = 不予受理
sv-event-merge = 并入另一案件
sv-event-question = 向举报人提问
sv-event-answer = 举报人回复
sv-event-follow-up = 已向举报人回访
sv-event-other = { $kind }

## 拒绝操作：说明原因和下一步。
sv-refused-not-yours = 未作任何更改：该案件不在您所负责网格的案件中，或不存在。如您应负责该案件，请联系生态环境局将您加入相应网格。
sv-refused-stale = 案件 { $number } 当前状态为「{ $status }」，此操作已不可用。发送 /case { $number } 查看进展。
sv-refused-invalid = 该按钮无效（未做任何更改）。请使用案件消息上的按钮，或发送 /inbox。
rp-refused-not-yours = 该按钮属于不是您举报的案件，未做任何更改。发送 /mycases 查看您的案件。
rp-refused-stale = 案件 { $number } 当前状态为「{ $status }」，该问题已处理过。发送 /case { $number } 查看进展。
sv-text-needed = 请发送 { $min }–{ $max } 个字的文字，或发送 /cancel 退出。

## 办理案件。
sv-ack-done = ✅ 您已确认接收案件 { $number }。请在 { $resolve_due } 前办结。
sv-ask-prompt = 请输入要问案件 { $number } 举报人的问题。举报人只会看到这是「{ $cell }的监督员」提出的。（/cancel 退出）
sv-ask-sent = 💬 您的问题已转给案件 { $number } 的举报人，回复会发到这里。
sv-answer-relayed =
    💬 案件 { $number } 的举报人回复：
    { $answer }
sv-transfer-choose = 将案件 { $number } 转办给哪个网格？相邻网格和上级网格：
sv-transfer-none = 案件 { $number } 没有可转办的相邻网格或上级网格。
sv-transfer-reason = 为什么应由「{ $cell }」办理案件 { $number }？请输入理由。（/cancel 退出）
sv-transfer-done = ↪️ 案件 { $number } 已转办至「{ $cell }」。
sv-transferred-to-you = ↪️ 「{ $from }」的监督员将案件转办至「{ $cell }」。理由：{ $reason }
sv-resolve-note = 请说明案件 { $number } 是如何处理的。（/cancel 退出）
sv-resolve-photo = 请发送一张整改后的照片，或点「跳过」。
sv-resolve-done = 🏁 案件 { $number } 已标记为办结。{ $days } 天后将回访举报人，确认问题是否真正解决。
sv-reject-choose = 案件 { $number } 不予受理的原因是？
sv-button-not-pollution = 不属于污染问题
sv-button-duplicate = 与其他案件重复
sv-reject-reason = 请输入理由，案件 { $number } 的举报人会看到。（/cancel 退出）
sv-duplicate-ask = 请发送案件 { $number } 所重复的原案件编号及理由，例如「2026-00001 同一处工地扬尘」。（/cancel 退出）
sv-duplicate-format = 请发送原案件编号和理由，例如「2026-00001 同一处工地扬尘」。
sv-duplicate-unknown = 您负责的网格中没有可并入的未结案件 { $target }。请核对编号（见 /inbox）后连同理由重新发送，或发送 /cancel。
sv-duplicate-self = 案件不能与自身重复。请发送另一个原案件的编号和理由，或发送 /cancel。
sv-reject-done = 🚫 案件 { $number } 已不予受理。理由：{ $reason }
sv-merge-done = 🔗 案件 { $number } 已并入案件 { $target }，其举报人将改为关注案件 { $target }。

## 发给监督员的升级通知（每个聊天一条汇总，以下各段是其中一节，列出案件）。
sv-escalated-in =
    ⏫ { $reason ->
        [ack] 未按时确认
        [reopened] 居民反映问题未解决
       *[resolve] 未按时办结
    }，已升级给您（{ $cell }）：
    { $numbers }
    发送 /case 编号 办理，或发送 /inbox 查看全部待办。
sv-escalated-out =
    ⏫ { $reason ->
        [ack] 未按时确认
        [reopened] 居民反映问题未解决
       *[resolve] 未按时办结
    }，已由「{ $from }」升级至「{ $cell }」：
    { $numbers }
sv-overdue-top =
    ⏰ 已在最高一级「{ $cell }」超时（{ $reason ->
        [ack] 未确认
        [reopened] 居民反映问题未解决
       *[resolve] 未办结
    }）：
    { $numbers }

## 举报人收到的案件进展。
rp-acknowledged = 👀 案件 { $number }：「{ $cell }」的监督员已接手处理。
rp-transferred = ↪️ 案件 { $number } 已转给负责该地的「{ $cell }」监督员。
rp-escalated = ⏫ 案件 { $number }：{ $reason ->
        [ack] 未能按时受理
        [reopened] 您反映问题未解决
       *[resolve] 未能按时办结
    }，已上报至{ $level ->
        [township] 乡镇
        [county] 县（区）
       *[city] 市
    }级监督员。
rp-resolved =
    🏁 「{ $cell }」的监督员已将案件 { $number } 标记为办结：
    { $note }
    几天后我们会问您问题是否真正解决。
rp-rejected = 🚫 「{ $cell }」的监督员认为案件 { $number } 不属于生态环境部门处理的事项，已关闭。理由：{ $reason }。紧急情况请拨打 12369。
rp-merged = 🔗 案件 { $number } 与案件 { $target } 是同一问题：您将改为关注案件 { $target }。理由：{ $reason }
rp-follow-up = 🔍 案件 { $number } 已于 { $days } 天前标记为办结。问题真的解决了吗？
rp-button-fixed = ✅ 是的，已解决
rp-button-not-fixed = ❌ 没有，仍未解决
rp-closed = ✅ 案件 { $number } 已关闭。感谢您为守护日喀则的碧水蓝天出力！
rp-closed-no-answer = ✅ 案件 { $number } 已关闭（回访未收到答复）。
rp-reopened = 🔁 案件 { $number } 已重新打开，将再次交由监督员处理。
rp-desk-message = 📨 生态环境局关于案件 { $number } 的消息：{ $message }
rp-question =
    💬 「{ $cell }」的监督员就您的案件 { $number } 提问：
    { $question }
    点「回复」作答。
rp-button-answer = 💬 回复
rp-answer-prompt = 请输入给「{ $cell }」监督员的回复（案件 { $number }）。（/cancel 退出）
rp-answer-sent = ✅ 您的回复已转给「{ $cell }」的监督员。
