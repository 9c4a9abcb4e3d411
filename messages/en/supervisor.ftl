## What supervisors read about cases.

sv-new-case =
    { $urgent ->
        [yes] 🚨 URGENT case { $number }
       *[no] 🆕 New case { $number }
    }
    Category: { $category }
    Place: { $cell }
    Responsible cell: { $responsible }
    Description: { $description }
    Reporter: { $reporter }
    Photos: { $photos }
    Please acknowledge by { $ack_due }.
sv-reporter-anonymous = anonymous
sv-case-joined =
    ➕ Another resident reported case { $number } ({ $reporters ->
        [one] one reporter
       *[other] { $reporters } reporters
    } now).
    Their description: { $description }
    Reporter: { $reporter }
sv-button-ack = ✅ Acknowledge
sv-button-ask = 💬 Ask the reporter
sv-button-transfer = ↪️ Transfer
sv-button-resolve = 🏁 Resolve
sv-button-reject = 🚫 Reject
