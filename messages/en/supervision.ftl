## Supervision: invites, working cases in chat, escalation and the follow-up ("回头看").

## Joining as a supervisor with an invitation code.
sv-invite-bound =
    ✅ You are now a grid supervisor of { $cell }.
    New cases of this cell reach you here, with buttons to act on them.
    /inbox — your open cases (overdue first)
    /case NUMBER — one case, its timeline and its buttons
sv-invite-already = You are already a supervisor of { $cell }. Send /inbox to see your open cases.
sv-invite-usage = Put the invitation code after the command, e.g. /join ABCDE23456
sv-invite-invalid = That invitation code is not valid. Check it letter by letter (10 letters and digits) or ask the bureau for a new one.
sv-invite-used = That invitation code has already been used. Ask the bureau for a new one.
sv-invite-expired = That invitation code expired on { $expired }. Ask the bureau for a new one.
sv-invite-revoked = The bureau has revoked that invitation code. Ask the bureau for a new one.
sv-invite-throttled = Too many wrong invitation codes from this account. For safety, please try again after { $until }.

## The inbox and one case.
sv-not-supervisor = /inbox is for grid supervisors. If you are one, send the invitation code from the bureau: /join CODE
sv-inbox-empty = You have no open cases. 🎉
sv-inbox-title = Your open cases ({ $count }), overdue first:
sv-inbox-line = { $overdue ->
        [yes] ⏰
       *[no] •
    } { $number } · { $category } · { $status } · { $cell }
sv-inbox-more = … and { $more ->
        [one] one more
       *[other] { $more } more
    }.
sv-inbox-hint = Send /case NUMBER to see one case and act on it.
sv-case-detail =
    { $urgent ->
        [yes] 🚨 Case { $number } (urgent)
       *[no] Case { $number }
    }
    Category: { $category }
    Status: { $status }
    Place: { $cell }
    Responsible cell: { $responsible }
    Escalated to: { $escalated }
    Description: { $description }
    Reporters: { $reporters }
    Filed: { $created }
    Acknowledge by: { $ack_due }
    Resolve by: { $resolve_due }
sv-not-escalated = not escalated
sv-timeline-title = Timeline:
sv-event-created = filed in { $cell }
sv-event-assigned = assigned to { $cell }
sv-event-joined = another resident joined
sv-event-acknowledge = acknowledged
sv-event-transfer = transferred from { $from } to { $cell }
sv-event-escalate = escalated to { $cell }
sv-event-overdue = overdue at { $cell }, the highest level
sv-event-resolve = resolved
sv-event-close = closed
sv-event-reopen = reopened: the resident says it is not fixed
sv-event-reject = rejected
sv-event-merge = merged into another case
sv-event-question = question to the reporter
sv-event-answer = answer from the reporter
sv-event-follow-up = follow-up question sent to the reporters
sv-event-other = { $kind }

## Refusals: each says what was wrong and what to do.
sv-refused-not-yours = Nothing was changed: that case is not among the cases of your cells, or does not exist. If you should supervise it, ask the bureau to add you to its cell.
sv-refused-stale = Case { $number } is now "{ $status }", so this action is no longer possible. Send /case { $number } to see where it stands.
sv-refused-invalid = That button is not valid (nothing was changed). Use the buttons on a case message, or send /inbox.
rp-refused-not-yours = That button belongs to a case you did not report; nothing was changed. Send /mycases to see your cases.
rp-refused-stale = Case { $number } is now "{ $status }", so that question has been settled already. Send /case { $number } to see where it stands.
sv-text-needed = Please send a text of { $min }–{ $max } characters, or /cancel to leave.

## Acting on a case.
sv-ack-done = ✅ You acknowledged case { $number }. Please resolve it by { $resolve_due }.
sv-ask-prompt = Type your question for the reporters of case { $number }. They will see it as coming from "the supervisor of { $cell }". (/cancel to leave)
sv-ask-sent = 💬 Your question was passed on to the reporters of case { $number }. Their answer will come here.
sv-answer-relayed =
    💬 A reporter of case { $number } answers:
    { $answer }
sv-transfer-choose = Transfer case { $number } to which cell? Neighbouring cells and the parent cell:
sv-transfer-none = Case { $number } has no neighbouring or parent cell to transfer it to.
sv-transfer-reason = Why should { $cell } take case { $number }? Type the reason. (/cancel to leave)
sv-transfer-done = ↪️ Case { $number } was transferred to { $cell }.
sv-transferred-to-you = ↪️ Transferred to { $cell } by the supervisor of { $from }. Reason: { $reason }
sv-resolve-note = Describe what was done to resolve case { $number }. (/cancel to leave)
sv-resolve-photo = Send an after-photo, or tap "Skip".
sv-resolve-done = 🏁 Case { $number } is marked resolved. In { $days ->
        [one] a day
       *[other] { $days } days
    } its reporters will be asked whether it is really fixed.
sv-reject-choose = Why reject case { $number }?
sv-button-not-pollution = Not a pollution matter
sv-button-duplicate = Duplicate of another case
sv-reject-reason = Type the reason; the reporters of case { $number } will read it. (/cancel to leave)
sv-duplicate-ask = Send the number of the case that case { $number } duplicates, then a reason, e.g. "2026-00001 same dust site". (/cancel to leave)
sv-duplicate-format = Please send the number of the original case and a reason, e.g. "2026-00001 same dust site".
sv-duplicate-unknown = There is no open case { $target } among your cells' cases to merge into. Check the number (see /inbox) and send it again with a reason, or /cancel.
sv-duplicate-self = A case cannot duplicate itself. Send the number of the other, original case and a reason, or /cancel.
sv-reject-done = 🚫 Case { $number } was rejected. Reason: { $reason }
sv-merge-done = 🔗 Case { $number } was merged into case { $target }; its reporters now follow case { $target }.

## Escalation notices to supervisors (one digest per chat; each of these is a section of it, listing the cases).
sv-escalated-in =
    ⏫ { $reason ->
        [ack] Not acknowledged in time
        [reopened] A resident says it is not fixed
       *[resolve] Not resolved in time
    }: escalated to you ({ $cell }):
    { $numbers }
    Send /case NUMBER to act, or /inbox for all your cases.
sv-escalated-out =
    ⏫ { $reason ->
        [ack] Not acknowledged in time
        [reopened] A resident says it is not fixed
       *[resolve] Not resolved in time
    }: escalated from { $from } to { $cell }:
    { $numbers }
sv-overdue-top =
    ⏰ Overdue at { $cell }, the highest level ({ $reason ->
        [ack] not acknowledged
        [reopened] a resident says it is not fixed
       *[resolve] not resolved
    }):
    { $numbers }

## What reporters hear about their cases.
rp-acknowledged = 👀 Case { $number }: the supervisor of { $cell } has taken it up.
rp-transferred = ↪️ Case { $number } was passed on to the supervisor of { $cell }, who answers for that place.
rp-escalated = ⏫ Case { $number }: { $reason ->
        [ack] it was not taken up in time
        [reopened] you told us it is not fixed
       *[resolve] it was not resolved in time
    }, so it has gone up to the { $level ->
        [township] township
        [county] county
       *[city] city
    } supervisors.
rp-resolved =
    🏁 Case { $number } was marked resolved by the supervisor of { $cell }:
    { $note }
    In a few days we will ask you whether it is really fixed.
rp-rejected = 🚫 Case { $number } was closed by the supervisor of { $cell } as not a matter for the environment bureau. Reason: { $reason }. In an emergency call 12369.
rp-merged = 🔗 Case { $number } is the same problem as case { $target }: you now follow case { $target }. Reason: { $reason }
rp-follow-up = 🔍 Case { $number } was marked resolved { $days ->
        [one] a day
       *[other] { $days } days
    } ago. Is the problem really fixed?
rp-button-fixed = ✅ Yes, it is fixed
rp-button-not-fixed = ❌ No, not fixed
rp-closed = ✅ Case { $number } is closed. Thank you for helping keep Shigatse clean!
rp-closed-no-answer = ✅ Case { $number } is closed (there was no answer to the follow-up question).
rp-reopened = 🔁 Case { $number } is reopened and goes to the supervisors again.
rp-desk-message = 📨 A message from the environment bureau about case { $number }: { $message }
rp-question =
    💬 The supervisor of { $cell } asks about your case { $number }:
    { $question }
    Tap "Answer" to reply.
rp-button-answer = 💬 Answer
rp-answer-prompt = Type your answer for the supervisor of { $cell } (case { $number }). (/cancel to leave)
rp-answer-sent = ✅ Your answer was passed on to the supervisor of { $cell }.
