## The resident's report dialog and case lookups.

report-ask-category = 您要举报哪一类问题？请先选择大类：
report-ask-category-in-group = { $group }：请选择具体类别：
report-ask-description = 请用文字描述您看到的情况（{ $min }–{ $max } 个字）：在哪里、什么情况、持续多久。
report-description-needed = 请发送一段文字描述（{ $min }–{ $max } 个字）。
report-description-short = 描述太短了，请至少写 { $min } 个字，方便网格员了解情况。
report-description-long = 描述太长了（{ $length } 个字），请控制在 { $max } 个字以内。
report-ask-photos = 如有照片，请发送（最多 { $max } 张，已收到 { $count } 张）；没有可以跳过。
report-photos-expected = 现在请发送照片（最多 { $max } 张），或点击「跳过」。
report-photos-full = 一份举报最多保留 { $max } 张照片，这张没有添加。我们继续：
report-ask-location =
    请告诉我们地点：点击下方「📍 发送我的位置」，
    或者点击「从列表选择」，按县 → 乡镇 → 村选择。
    （也可以直接输入经纬度，例如 29.267, 88.881）
report-location-invalid = 这个位置无法识别。请重新发送位置，或从列表选择。
report-location-outside =
    这个位置不在日喀则市的监督网格内（距离最近的 { $nearest } 约 { $distance } 公里）。
    请检查后重新发送位置，或从列表选择；网格外的问题请拨打 { $hotline } 环保热线。
report-pick =
    { $level ->
        [county] 请选择县（区）：
        [township] 请选择乡镇：
       *[village] 请选择村（社区）：
    }
report-ask-anonymity = 是否允许网格员看到您的身份？默认匿名。
report-summary =
    请核对您的举报：
    类别：{ $category }
    描述：{ $description }
    照片：{ $photos } 张
    地点：{ $place }
    身份：{ $anonymous ->
        [yes] 匿名
       *[no] 向网格员公开
    }
    紧急：{ $emergency ->
        [yes] 是 🚨
       *[no] 否
    }
report-edit-which = 要修改哪一项？
report-discard-ask =
    您有一份正在填写的举报。{ $command ->
        [language] 现在更换语言会丢弃这份草稿。
       *[report] 现在开始新的举报会丢弃这份草稿。
    }确定丢弃吗？
report-voice-not-recognised = 这段语音没有识别出文字。请用文字输入描述（至少 { $min } 个字），或者靠近手机、放慢语速重新说一遍。
report-location-swapped = 这个位置不在网格内，但把两个数字对调后就在网格内。您是不是想输入 { $lat }, { $lon }？点击「是」使用它，或重新输入经纬度（纬度在前）、发送位置、从列表选择。
report-cancelled = 已取消本次举报，什么都没有提交。
report-restart = 之前的草稿已失效，请发送 /report 重新开始。
report-invalid-draft = 举报信息不完整或已失效，没有提交。请发送 /report 重新开始。
report-rate-limited = 您在最近一小时内已提交 { $limit } 次举报，已达每小时上限。您可以在 { $again } 之后再次举报。紧急情况请立即拨打 12369。
report-saved =
    ✅ 已受理！案件编号：{ $number }
    已转交「{ $cell }」的网格员处理，进展会通知您。发送 /mycases 查看。
report-joined =
    ✅ 附近已有同类案件 { $number } 正在处理，您的举报已并入该案件（目前共 { $reporters } 位举报人）。
    该案件的进展也会通知您。
report-own-case =
    ✅ 您已经举报过这里：这是您自己的案件 { $number }，仍在处理中，因此没有重复立案。
    进展会通知您。发送 /mycases 查看。
report-urgent-hotline = ⚠️ 这是紧急类举报，已同时通知县级网格员。如有危险，请立即拨打 { $hotline } 环保热线。

button-share-location = 📍 发送我的位置
button-pick-location = 🗺️ 从列表选择
button-photos-done = ✅ 照片发完了
button-anonymous = 🙈 匿名（推荐）
button-show-name = 👤 公开我的身份
button-confirm = ✅ 确认提交
button-discard-yes = 🗑️ 是，丢弃草稿
button-discard-no = ↩️ 否，继续填写举报
button-use-swapped = ✅ 是，使用对调后的经纬度
button-edit = ✏️ 修改
button-emergency = 🚨 标记为紧急
button-unmark-emergency = 取消紧急标记
edit-category = 类别
edit-description = 描述
edit-photos = 照片
edit-location = 地点
edit-anonymity = 身份

mycases-empty = 您还没有提交过举报。发送 /report 开始。
mycases-title = 您的举报：
mycases-line = { $number } · { $category } · { $status } · { $date }
mycases-hint = 发送 /case 编号 查看详情。
case-usage = 请在命令后写上案件编号，例如：/case 2026-00001；今年的案件也可以只写序号，如 /case 1。
case-not-found = 没有找到案件 { $number }，或者您不是它的举报人。
case-detail =
    案件 { $number }
    类别：{ $category }
    状态：{ $status }
    地点：{ $cell }
    负责网格：{ $responsible }
    描述：{ $description }
    举报人数：{ $reporters }
    提交时间：{ $created }
