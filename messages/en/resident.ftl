## The resident's report dialog and case lookups.

report-ask-category = What would you like to report? First pick a group:
report-ask-category-in-group = { $group }: pick the exact category:
report-ask-description = Please describe what you see ({ $min }–{ $max } characters): where, what, and for how long.
report-description-needed = Please send a text description ({ $min }–{ $max } characters).
report-description-short = That is too short: please write at least { $min } characters so the supervisor understands.
report-description-long = That is too long ({ $length } characters): please keep it within { $max }.
report-ask-photos = Send photos if you have any (up to { $max }; { $count ->
        [0] none received yet
        [one] one received so far
       *[other] { $count } received so far
    }), or skip.
report-photos-expected = Now send photos (up to { $max }), or tap "Skip".
report-photos-full = At most { $max } photos are kept with a report, so this one was not added. Let us go on:
report-ask-location =
    Where is it? Tap "📍 Share my location" below,
    or "Pick from a list" to choose county → township → village.
    (You can also type coordinates, e.g. 29.267, 88.881)
report-location-invalid = I could not read that location. Please send it again, or pick from the list.
report-location-outside =
    That place is outside Shigatse's supervision grid (about { $distance } km from { $nearest }, the nearest).
    Please check and send the location again, or pick from the list; for places outside the grid call the { $hotline } environmental hotline.
report-pick =
    { $level ->
        [county] Choose the county:
        [township] Choose the township:
       *[village] Choose the village:
    }
report-ask-anonymity = May the supervisor see who you are? By default you stay anonymous.
report-summary =
    Please check your report:
    Category: { $category }
    Description: { $description }
    Photos: { $photos }
    Place: { $place }
    Identity: { $anonymous ->
        [yes] anonymous
       *[no] shown to the supervisor
    }
    Emergency: { $emergency ->
        [yes] yes 🚨
       *[no] no
    }
report-edit-which = What would you like to change?
report-discard-ask =
    You have a report in progress. { $command ->
        [language] Changing the language now throws its draft away.
       *[report] Starting a new report throws its draft away.
    } Discard the draft?
report-voice-not-recognised = I could not make out any words in that voice message. Please type the description (at least { $min } characters), or speak again, a little slower and closer to the phone.
report-location-swapped = That point is outside the grid, but with the two numbers swapped it is inside. Did you mean { $lat }, { $lon }? Tap "Yes" to use it, or type the coordinates again (latitude first), share your location or pick from the list.
report-cancelled = Report cancelled; nothing was submitted.
report-restart = Your earlier draft is no longer valid. Send /report to start again.
report-invalid-draft = The report was incomplete or out of date and was not submitted. Send /report to start again.
report-rate-limited = You have filed { $limit ->
        [one] a report
       *[other] { $limit } reports
    } within the last hour, the most accepted in an hour. You can report again at { $again }. In an emergency call 12369 now.
report-saved =
    ✅ Received! Case number: { $number }
    It has gone to the supervisor of "{ $cell }"; you will hear how it progresses. Send /mycases to see your cases.
report-joined =
    ✅ A case of the same kind nearby, { $number }, is already open; your report has joined it ({ $reporters ->
        [one] one reporter
       *[other] { $reporters } reporters
    } so far).
    You will hear how that case progresses.
report-own-case =
    ✅ You have already reported this: it is your own case { $number }, still open, so nothing new was filed.
    You will hear how it progresses. Send /mycases to see your cases.
report-urgent-hotline = ⚠️ This is an urgent report; the county supervisors were told as well. If anyone is in danger, call the { $hotline } environmental hotline now.

button-share-location = 📍 Share my location
button-pick-location = 🗺️ Pick from a list
button-photos-done = ✅ That's all the photos
button-anonymous = 🙈 Stay anonymous (recommended)
button-show-name = 👤 Show who I am
button-confirm = ✅ Submit
button-discard-yes = 🗑️ Yes, discard the draft
button-discard-no = ↩️ No, continue my report
button-use-swapped = ✅ Yes, use the swapped coordinates
button-edit = ✏️ Change
button-emergency = 🚨 Mark as emergency
button-unmark-emergency = Not an emergency
edit-category = Category
edit-description = Description
edit-photos = Photos
edit-location = Place
edit-anonymity = Identity

mycases-empty = You have not filed any report yet. Send /report to start.
mycases-title = Your reports:
mycases-line = { $number } · { $category } · { $status } · { $date }
mycases-hint = Send /case NUMBER for the details.
case-usage = Put the case number after the command, e.g. /case 2026-00001, or just /case 1 for this year's case 1.
case-not-found = No case { $number } was found, or you did not report it.
case-detail =
    Case { $number }
    Category: { $category }
    Status: { $status }
    Place: { $cell }
    Responsible cell: { $responsible }
    Description: { $description }
    Reporters: { $reporters }
    Filed: { $created }
