## Shared texts: welcome, help, language, errors.

welcome =
    Hello! This is Jingtu, the environmental supervision assistant of Shigatse's Ecology and Environment Bureau.
    See pollution? Report it here: we pass your report at once to the supervisor of that grid cell and keep you posted.

    请选择语言 / སྐད་ཡིག་འདེམས་རོགས། / Choose your language:
help =
    Commands:
    /report — report pollution
    /mycases — your reports
    /case NUMBER — look at one case
    /language — change language
    /cancel — leave the current dialog
    /help — this help
    /subscribe, /unsubscribe, /settings — bulletins and campaigns
    Grid supervisors: /join CODE to bind your cell, /inbox for your open cases.
    You can also start a report by writing "report", "举报" or "སྙན་ཞུ", and answer any question with buttons by typing the number of your choice.
    In an emergency call the 12369 environmental hotline.
language-choose = Choose your language:
language-set = Done — I will write to you in English from now on.
cancelled = Left the current dialog.
nothing-to-cancel = There is no dialog to leave.
idle-hint = To report pollution send /report; /help lists every command.
unknown-command = There is no /{ $command } command. Send /help to see what you can do.
button-stale = That button no longer works (it may be from an earlier conversation). Send /help to start again.
not-an-answer = That does not answer the question. Please tap one of the buttons below or type its number, or send /cancel to leave.
choice-out-of-range = There is no choice { $number } here: { $count ->
        [one] the only choice is 1.
       *[other] please type a number from 1 to { $count }.
    } These are the choices:
input-too-long = That message is too long (at most { $max } characters). Please shorten it and send it again.
error-internal = Sorry, something went wrong and nothing was saved. Please try again later; in an emergency call 12369.

button-cancel = ❌ Cancel
button-back = ⬅️ Back
button-skip = Skip

## The command list shown in the chat client's menu.
command-report = Report pollution
command-mycases = Your reports
command-case = Look at a case (/case NUMBER)
command-language = Change language
command-help = Help
command-cancel = Leave the current dialog
