## 订阅：/subscribe、/unsubscribe、/settings。

topic-air = 空气质量公报
topic-water = 水环境
topic-waste = 垃圾分类与回收
topic-campaigns = 宣传活动与志愿活动
topic-digest = 我所在区域的每周问题周报

sub-choose-topics = 您想接收哪些内容？点击主题可勾选或取消，选好后点“完成”。
sub-need-topic = 请至少勾选一个主题，再点“完成”。如需停止所有消息，请发送 /unsubscribe。
sub-ask-area = 消息关注哪个区域？请发送您的位置，或从列表中选择县区和乡镇。
sub-pick-county = 请选择县区：
sub-pick-township = 请选择{ $county }的乡镇，或选择整个县区：
sub-whole-city = 日喀则全市
sub-area-outside = 该位置不在日喀则网格范围内，请从列表中选择区域。
sub-area-invalid = 无法识别该位置。请重新发送，或从列表中选择区域。
sub-ask-language = 消息使用哪种语言？
sub-use-buttons = 请使用上方按钮，或发送 /cancel 退出。
sub-cancelled = 未做任何更改。
sub-restart = 该步骤已过期，请发送 /subscribe 重新开始。
sub-saved =
    订阅成功。您将收到：{ $topics }
    区域：{ $area }
    免打扰时段（{ $quiet }）内，非紧急消息将在早上发送。
    发送 /settings 修改设置，发送 /unsubscribe 退订。
settings-none = 您还没有任何订阅。发送 /subscribe 选择主题。
settings-show =
    您的订阅
    主题：{ $topics }
    区域：{ $area }
    语言：{ $language }
    免打扰时段：{ $quiet }
settings-saved = 已保存。
quiet-off = 无
unsub-none = 您没有任何订阅。发送 /subscribe 选择主题。
unsub-choose = 您想停止哪项订阅？
unsub-done-topic = 已退订：您将不再收到“{ $topic }”。
unsub-done-all = 已退订全部内容。随时发送 /subscribe 可重新订阅。

button-done = ✔️ 完成
button-pick-from-list = 📋 从列表中选择
sub-button-share-location = 📍 发送我的位置
button-whole-county = { $county }全境
button-change-topics = 修改主题
button-change-area = 修改区域
button-change-language = 修改语言
button-unsubscribe-all = 全部退订

command-subscribe = 订阅公报和活动
command-unsubscribe = 退订
command-settings = 订阅设置
