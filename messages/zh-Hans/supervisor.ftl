## What supervisors read about cases.

sv-new-case =
    { $urgent ->
        [yes] 🚨 紧急案件 { $number }
       *[no] 🆕 新案件 { $number }
    }
    类别：{ $category }
    地点：{ $cell }
    负责网格：{ $responsible }
    描述：{ $description }
    举报人：{ $reporter }
    照片：{ $photos } 张
    请在 { $ack_due } 前确认。
sv-reporter-anonymous = 匿名
sv-case-joined =
    ➕ 案件 { $number } 又有居民举报（目前共 { $reporters } 位）。
    补充描述：{ $description }
    举报人：{ $reporter }
sv-button-ack = ✅ 确认接收
sv-button-ask = 💬 询问举报人
sv-button-transfer = ↪️ 转办
sv-button-resolve = 🏁 办结
sv-button-reject = 🚫 不予受理
