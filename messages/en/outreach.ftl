## Subscriptions: /subscribe, /unsubscribe, /settings.

topic-air = Air-quality bulletins
topic-water = Water
topic-waste = Waste and recycling
topic-campaigns = Campaigns and volunteer events
topic-digest = Weekly digest of cases in my area

sub-choose-topics = Which topics would you like to hear about? Tap a topic to tick or untick it, then press Done.
sub-need-topic = Tick at least one topic, then press Done. To stop all messages send /unsubscribe.
sub-ask-area = Which area should your messages be about? Share your location, or choose your county and township from the list.
sub-pick-county = Choose your county:
sub-pick-township = Choose a township in { $county }, or the whole county:
sub-whole-city = All of Shigatse
sub-area-outside = That location is outside Shigatse's supervision grid. Please choose your area from the list instead.
sub-area-invalid = I could not read that location. Share it again, or choose your area from the list.
sub-ask-language = Which language should your messages be in?
sub-use-buttons = Please use the buttons above, or send /cancel to leave.
sub-cancelled = Nothing was changed.
sub-restart = That step has expired. Send /subscribe to start again.
sub-saved =
    Subscribed. You will hear about: { $topics }
    Area: { $area }
    Messages that are not urgent wait until morning during quiet hours ({ $quiet }).
    Send /settings to change this, or /unsubscribe to stop.
settings-none = You are not subscribed to anything yet. Send /subscribe to choose topics.
settings-show =
    Your subscriptions
    Topics: { $topics }
    Area: { $area }
    Language: { $language }
    Quiet hours: { $quiet }
settings-saved = Saved.
quiet-off = none
unsub-none = You have no subscriptions. Send /subscribe to choose topics.
unsub-choose = Which subscription would you like to stop?
unsub-done-topic = Done: you will no longer receive { $topic }.
unsub-done-all = You are unsubscribed from everything. Send /subscribe to come back at any time.

button-done = ✔️ Done
button-pick-from-list = 📋 Choose from the list
sub-button-share-location = 📍 Share my location
button-whole-county = All of { $county }
button-change-topics = Change topics
button-change-area = Change area
button-change-language = Change language
button-unsubscribe-all = Stop everything

command-subscribe = Subscribe to bulletins and campaigns
command-unsubscribe = Stop subscriptions
command-settings = Your subscription settings
