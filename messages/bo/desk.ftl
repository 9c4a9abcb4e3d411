## Machine-drafted Tibetan: to be reviewed by a native speaker before production.
## The bureau's desk: the staff dashboard.
desk-app-name = དག་ཞིང་ལས་སྟེགས།
desk-title = ལས་སྟེགས།
desk-nav-map = ས་ཁྲ།
desk-nav-cases = དོན་རྐྱེན།
desk-nav-stats = སྡོམ་རྩིས།
desk-nav-supervisors = དྲ་མིག་ལྟ་རྟོག་པ།
desk-nav-campaigns = ཁྱབ་བསྒྲགས།
desk-language = སྐད་ཡིག
desk-locale-zh-Hans = 中文
desk-locale-bo = བོད་ཡིག
desk-locale-en = English
desk-logout = ཕྱིར་ཐོན།
desk-back = དོན་རྐྱེན་གྱི་ཐོ་ལ་ཕྱིར་ལོག
desk-any = ཚང་མ།
desk-none = མེད།
desk-role-admin = དོ་དམ་པ།
desk-role-county = རྫོང་གི་ལས་བྱེད་པ།
desk-role-viewer = ལྟ་ཙམ་བྱེད་མཁན།

## Signing in.
desk-login-title = ལས་སྟེགས་སུ་ནང་འཛུལ།
desk-login-name = མིང་།
desk-login-password = གསང་ཨང་།
desk-login-submit = ནང་འཛུལ།
desk-login-failed = མིང་ངམ་གསང་ཨང་ནོར་འདུག ཞིབ་བཤེར་བྱས་ནས་ཡང་བསྐྱར་ཚོད་ལྟ་གནང་རོགས།
desk-login-throttled = ནང་འཛུལ་ཕམ་ཐེངས་མང་དྲགས་འདུག སྐར་མ་ { $minutes } སྒུག་ནས་ཡང་བསྐྱར་ཚོད་ལྟ་གནང་རོགས། ཡང་ན་དོ་དམ་པར་གསང་ཨང་གསར་བཟོ་ཞུ་རོགས།
desk-session-expired = ཁྱེད་ཀྱི་ནང་འཛུལ་དུས་ཡོལ་སོང་། མུ་མཐུད་པར་ཡང་བསྐྱར་ནང་འཛུལ་གནང་རོགས།
desk-csrf-refused = རེའུ་མིག་འདི་དུས་ཡོལ་བའམ་ལས་སྟེགས་ནས་ཡོང་བ་མིན་པས་ཅི་ཡང་བསྒྱུར་མེད། ཤོག་ངོས་གསར་དུ་བཀོད་ནས་ཡང་བསྐྱར་ཚོད་ལྟ་གནང་རོགས།

## Account management.
desk-password-length = གསང་ཨང་ལ་ཡི་གེ་ { $min } ནས་ { $max } བར་དགོས།
desk-password-mismatch = གསང་ཨང་གཉིས་མི་མཐུན། གསང་ཨང་གཅིག་པ་ཐེངས་གཉིས་འབྲི་རོགས།
desk-name-invalid = མིང་ལ་ཡི་གེ་ ༢ ནས་ ༦༤ བར་དགོས་ཤིང་བར་སྟོང་མི་ཆོག
desk-name-taken = མིང་དེ་བེད་སྤྱོད་བྱས་ཟིན། མིང་གཞན་ཞིག་འདེམས་རོགས།
desk-role-invalid = ལས་འགན་ admin དང་ county ཡང་ན་ viewer འདེམས་རོགས།
desk-cell-required = རྫོང་གི་ལས་བྱེད་པར་རང་རྫོང་གི་དྲ་མིག་ཨང་རྟགས་དགོས།
desk-cell-unwanted = ལས་འགན་འདིས་དྲ་མིག་ཚང་མར་ལྟ་ཐུབ། དྲ་མིག་མ་འགོད་རོགས།
desk-staff-unknown = མིང་དེའི་ལས་བྱེད་པའི་ཐོ་ཁོངས་མེད།

## The case list.
desk-filter-status = གནས་སྟངས།
desk-filter-category = རིགས།
desk-filter-cell = དྲ་མིག་ནང་།
desk-filter-overdue = དུས་ཡོལ་བ་ཁོ་ན།
desk-filter-since = འགོ་ཚེས།
desk-filter-until = མཇུག་ཚེས།
desk-filter-text = ཚིག
desk-filter-apply = འཚོལ།
desk-export-csv = CSV ཕྱིར་འདྲེན།
desk-cases-count = དོན་རྐྱེན་ { $total } · ཤོག་ངོས་ { $page }/{ $pages }
desk-no-cases = ཆ་རྐྱེན་འདི་དང་མཐུན་པའི་དོན་རྐྱེན་མེད།
desk-previous = སྔོན་མ།
desk-next = རྗེས་མ།
desk-col-number = ཨང་།
desk-col-received = ལེན་དུས།
desk-col-status = གནས་སྟངས།
desk-col-category = རིགས།
desk-col-cell = དྲ་མིག
desk-col-origin = སྙན་ཞུའི་ས་གནས།
desk-col-reporters = སྙན་ཞུ་བ།
desk-col-ack-due = ངོས་ལེན་དུས་བཀག
desk-col-resolve-due = ཐག་གཅོད་དུས་བཀག
desk-col-county = རྫོང་།
desk-col-campaign = ཁྱབ་བསྒྲགས།
desk-col-runs = ཐེངས།
desk-col-recipients = ལེན་མཁན།
desk-col-delivered = འབྱོར་བ།
desk-col-failed = ཕམ་པ།
desk-col-name = མིང་།
desk-col-channels = འབྲེལ་ལམ།
desk-col-expires = དུས་ཡོལ།
desk-col-state = གནས་སྟངས།
desk-col-title = ཁ་བྱང་།
desk-col-topic = བརྗོད་གཞི།
desk-col-when = དུས་ཚོད།
desk-col-next = རྗེས་མའི་དུས།
desk-col-progress = མདུན་སྐྱོད།
desk-bad-date = “{ $value }” ཚེས་གྲངས་མིན། 2026-11-30 ལྟར་འབྲི་རོགས།
desk-bad-status = དོན་རྐྱེན་གྱི་གནས་སྟངས་ “{ $value }” མེད། ཐོ་ནས་འདེམས་རོགས།
desk-bad-range = འགོ་ཚེས་མཇུག་ཚེས་ལས་ཕྱི་བ་འདུག གོ་རིམ་བརྗེ་རོགས།
desk-bad-period = “{ $value }” ལོ་ (2026) ཡང་མིན་ཟླ་བ་ (2026-11) ཡང་མིན།
desk-cell-unknown = དྲ་མིག་ “{ $cell }” མེད། ས་ཁྲའི་ཐོག་ཨང་རྟགས་ཞིབ་བཤེར་གནང་རོགས།

desk-status-open = ཐག་མ་ཆོད་པ།
desk-status-new = གསར་པ།
desk-status-assigned = བགོས་ཟིན།
desk-status-acknowledged = ངོས་ལེན་བྱས་ཟིན།
desk-status-resolved = ཐག་བཅད་ཟིན།
desk-status-closed = མཇུག་བསྡུས།
desk-status-reopened = བསྐྱར་དུ་ཁ་ཕྱེ།
desk-status-rejected = ངོས་ལེན་མ་བྱས།
desk-status-merged = བསྐྱར་ཟློས་སུ་མཉམ་སྡེབ།

## One case.
desk-case-title = དོན་རྐྱེན་ { $number }
desk-escalated = རིམ་པ་ { $level } ཡར་སྤྲོད་ཟིན།
desk-reporters-anonymous = { $count } — ལས་སྟེགས་སུ་སྙན་ཞུ་བའི་ངོ་བོ་གཏན་ནས་མི་སྟོན།
desk-photos = པར།
desk-no-photos = པར་མེད།
desk-photo-report = སྙན་ཞུའི་པར།
desk-photo-resolution = ཐག་གཅོད་ཀྱི་པར།
desk-timeline = ལོ་རྒྱུས།
desk-actions = བྱ་སྤྱོད།
desk-no-actions = ཁྱེད་ཀྱི་ཐོ་ཁོངས་ཀྱིས་དོན་རྐྱེན་འདི་ལ་བྱ་སྤྱོད་བྱེད་མི་ཐུབ།
desk-action-reassign = བསྐྱར་དུ་བགོ།
desk-reassign-to = དྲ་མིག་ལ།
desk-reason = རྒྱུ་མཚན།
desk-action-duplicate = བསྐྱར་ཟློས་ཡིན་པས་མཇུག་བསྡུ།
desk-duplicate-of = བསྐྱར་ཟློས་ཀྱི་དོན་རྐྱེན་ཨང་།
desk-action-note = ནང་ཁུལ་མཆན་འགོད།
desk-action-message = སྙན་ཞུ་བར་འཕྲིན་གཏོང་།
desk-message-hint = དོན་རྐྱེན་འདིའི་སྙན་ཞུ་བ་ཚང་མར་ཁ་བརྡའི་ནང་དུ་བསྐུར་ངེས། ཁོང་ཚོའི་ངོ་བོ་ཁྱེད་ལ་གསང་བ་ཡིན།
desk-done-reassign = དོན་རྐྱེན་བསྐྱར་དུ་བགོས་ཟིན། དྲ་མིག་གསར་པའི་ལྟ་རྟོག་པ་དང་སྙན་ཞུ་བར་བརྡ་བཏང་ཟིན།
desk-done-duplicate = དོན་རྐྱེན་བསྐྱར་ཟློས་ཡིན་པས་མཇུག་བསྡུས། སྙན་ཞུ་བས་དོན་རྐྱེན་གཞན་དེར་རྗེས་འདེད་བྱེད།
desk-done-note = མཆན་ལོ་རྒྱུས་ནང་བསྣན་ཟིན།
desk-done-message = འཕྲིན་སྙན་ཞུ་བར་བསྐུར་བཞིན་ཡོད།
desk-done-removed = ལྟ་རྟོག་པ་ཕྱིར་འཐེན་བྱས་ཟིན།
desk-done-revoked = གདན་ཞུའི་ཨང་གྲངས་རྩིས་མེད་བཏང་ཟིན།
desk-done-scheduled = གཏོང་འཆར་བསྣན་ཟིན།
desk-done-cancelled = གཏོང་འཆར་རྩིས་མེད་བཏང་ཟིན།
desk-case-not-found = ཁྱེད་ཀྱི་ཁུལ་ནང་དོན་རྐྱེན་ { $number } མེད། ཨང་གྲངས་ཞིབ་བཤེར་གནང་རོགས།
desk-case-stale = དོན་རྐྱེན་ { $number } གི་གནས་སྟངས་འགྱུར་སོང་བས་བྱ་སྤྱོད་འདི་མི་ཆོག ཤོག་ངོས་གསར་དུ་བཀོད་རོགས།
desk-read-only = ལྟ་ཙམ་གྱི་ཐོ་ཁོངས་ཀྱིས་ལྟ་ཐུབ་ཀྱང་བྱ་སྤྱོད་བྱེད་མི་ཐུབ། དགོས་ན་དོ་དམ་པར་འབྲེལ་བ་གནང་།
desk-text-required = ཚིག་ཉུང་ཤས་ཤིག་འབྲི་རོགས།
desk-cell-outside = དྲ་མིག་ { $cell } ཁྱེད་ཀྱི་ཁུལ་ལས་ཕྱི་ལ་ཡོད། ཁུལ་ནང་གི་དྲ་མིག་ཅིག་འདེམས་རོགས།
desk-same-cell = དོན་རྐྱེན་དེ་སྔར་ནས་དྲ་མིག་ { $cell } ལ་ཡོད། དྲ་མིག་གཞན་ཞིག་འདེམས་རོགས།
desk-same-case = དོན་རྐྱེན་རང་ཉིད་ཀྱི་བསྐྱར་ཟློས་ཡིན་མི་སྲིད། དོན་རྐྱེན་གཞན་གྱི་ཨང་འབྲི་རོགས།

desk-actor-resident = སྙན་ཞུ་བ།
desk-actor-supervisor = ལྟ་རྟོག་པ།
desk-actor-staff = ལས་སྟེགས།
desk-actor-system = མ་ལག
desk-event-created = ལེན་པ།
desk-event-assigned = བགོས་པ།
desk-event-acknowledge = ངོས་ལེན།
desk-event-question = སྙན་ཞུ་བར་དྲི་བ།
desk-event-answer = སྙན་ཞུ་བའི་ལན།
desk-event-transfer = བསྐྱར་དུ་བགོས།
desk-event-resolve = ཐག་བཅད།
desk-event-reject = ངོས་ལེན་མ་བྱས།
desk-event-merge = བསྐྱར་ཟློས་ཡིན་པས་མཇུག་བསྡུས།
desk-event-joined = སྙན་ཞུ་བ་མཉམ་ཞུགས།
desk-event-escalate = ཡར་སྤྲོད།
desk-event-overdue = རིམ་པ་མཐོ་ཤོས་སུ་དུས་ཡོལ།
desk-event-follow_up = ཕྱིར་ལྟའི་འདྲི་རྩད།
desk-event-close = མཇུག་བསྡུས།
desk-event-reopen = བསྐྱར་དུ་ཁ་ཕྱེ།
desk-event-note = ནང་ཁུལ་མཆན།
desk-event-desk_message = ལས་སྟེགས་ཀྱི་འཕྲིན།

## The map.
desk-map-level = རིམ་པ།
desk-level-county = རྫོང་།
desk-level-township = ཤང་།
desk-level-village = གྲོང་ཚོ།
desk-map-none = ཐག་མ་ཆོད་པའི་དོན་རྐྱེན་མེད།
desk-map-open = ཐག་མ་ཆོད་པ།
desk-map-overdue = དུས་ཡོལ།
desk-map-open-case = དོན་རྐྱེན་ཁ་ཕྱེ།

## Statistics.
desk-stats-headline = དོན་རྐྱེན་ { $received } ལེན་ཞིང་ { $closed } མཇུག་བསྡུས། འཕྲིན་ { $sent } བསྐུར།
desk-stats-chart = རྫོང་སོ་སོའི་དོན་རྐྱེན།
desk-stats-by-county = རྫོང་ལྟར།
desk-stats-by-category = རིགས་ལྟར།
desk-stats-campaigns = ཁྱབ་བསྒྲགས།
desk-stats-all = ཁྱོན་བསྡོམས།
desk-stat-received = ལེན་པ།
desk-stat-resolved = ཐག་བཅད།
desk-stat-ack-in-time = དུས་ཐོག་ངོས་ལེན།
desk-stat-resolved-in-time = དུས་ཐོག་ཐག་གཅོད།
desk-stat-median-ack = ངོས་ལེན་གྱི་ཆུ་ཚོད་བར་གྲངས།
desk-stat-median-resolve = ཐག་གཅོད་ཀྱི་ཆུ་ཚོད་བར་གྲངས།
desk-stat-escalations = ཡར་སྤྲོད།
desk-stat-follow-up = ཕྱིར་ལྟ། ཐག་ཆོད། / མ་ཆོད། / ལན་མེད།
desk-stat-reopen-rate = བསྐྱར་ཁ་ཕྱེའི་བསྡུར་ཚད།
desk-report-monthly = ཟླ་རེའི་སྙན་ཐོ།
desk-report-annual = ལོ་རེའི་སྙན་ཐོ།

## The printable report (always shown in Chinese; these are for completeness).
desk-report-title-month = དག་ཞིང་གི་ཟླ་རེའི་སྙན་ཐོ། { $year } ལོའི་ཟླ་ { $month }
desk-report-title-year = དག་ཞིང་གི་ལོ་རེའི་སྙན་ཐོ། { $year }
desk-report-period = { $since } ནས་ { $until } བར།
desk-report-headline = གྲངས་ཐོ་གཙོ་བོ།
desk-report-received = ལེན་པའི་དོན་རྐྱེན། { $count }
desk-report-closed = མཇུག་བསྡུས་པའི་དོན་རྐྱེན། { $count }
desk-report-ack = དུས་ཐོག་ངོས་ལེན། { $total } ནང་ནས་ { $count }
desk-report-resolved = དུས་ཐོག་ཐག་གཅོད། { $total } ནང་ནས་ { $count }
desk-report-escalations = ཡར་སྤྲོད། { $count }
desk-report-follow-up = ཕྱིར་ལྟ། ཐག་ཆོད་ { $fixed }, མ་ཆོད་ { $not_fixed }, ལན་མེད་ { $silent }
desk-report-messages = བསྐུར་བའི་འཕྲིན། { $count }
desk-report-generated = བཟོས་དུས། { $at }

## Supervisors.
desk-roster = ལྟ་རྟོག་པའི་མིང་ཐོ།
desk-unstaffed = ལྟ་རྟོག་པ་མེད་པའི་དྲ་མིག
desk-invites = གདན་ཞུའི་ཨང་གྲངས།
desk-invite-pending = བེད་སྤྱོད་མ་བྱས།
desk-invite-used = བེད་སྤྱོད་བྱས་ཟིན།
desk-invite-expired = དུས་ཡོལ།
desk-invite-revoked = རྩིས་མེད།
desk-revoke = རྩིས་མེད་གཏོང་།
desk-remove = ཕྱིར་འཐེན།
desk-unreachable = འབྲེལ་བ་བྱེད་མི་ཐུབ་པའི་མི།
desk-unreachable-no-chat = ཁ་བརྡའི་ཐོ་ཁོངས་མེད།
desk-unreachable-blocked = འཕྲུལ་ཆས་བཀག་པའམ་ཁ་བརྡ་ནས་ཐོན།
desk-unreachable-wechat-window = WeChat གིས་འཕྲིན་མཐའ་མ་བཀག (ཆུ་ཚོད་ ༤༨ ནང་འབྲེལ་བ་མེད།)
desk-supervisor-unknown = ཁྱེད་ཀྱི་ཁུལ་ནང་ལྟ་རྟོག་པ་དེ་མེད།
desk-invite-unknown = ཁྱེད་ཀྱི་ཁུལ་ནང་གདན་ཞུའི་ཨང་གྲངས་དེ་མེད།
desk-invite-not-pending = བེད་སྤྱོད་མ་བྱས་པའི་གདན་ཞུའི་ཨང་གྲངས་ཁོ་ན་རྩིས་མེད་གཏོང་ཆོག

## Campaigns.
desk-library = ཁྱབ་བསྒྲགས་མཛོད།
desk-schedules = གཏོང་འཆར།
desk-runs = གཏོང་ཐེངས།
desk-cancel = རྩིས་མེད།
desk-schedule-new = གཏོང་འཆར་གསར་པ།
desk-schedule-cron = བསྐྱར་ཟློས། (cron, དཔེར་ན། 0 10 * * 1)
desk-schedule-at = ཡང་ན་དུས་ཚོད་འདིར་ཐེངས་གཅིག
desk-schedule-area = དྲ་མིག་ནང་། (འདེམས་རུང་།)
desk-schedule-add = གཏོང་འཆར་བསྣན།
desk-admin-only = དོ་དམ་པ་ཁོ་ནས་ཁྱབ་བསྒྲགས་བཟོ་བཅོས་བྱེད་ཆོག
desk-bad-time = དུས་ཚོད་དེ་ཀློག་མི་ཐུབ། ཚེས་གྲངས་དང་དུས་ཚོད་འདེམས་ཆས་བེད་སྤྱོད་གནང་།
desk-cron-or-time = བསྐྱར་ཟློས་ (cron) དང་དུས་ཚོད་ཐེངས་གཅིག་གཉིས་ལས་གཅིག་ཁོ་ན་འབྲི་རོགས།
desk-campaign-refused = གཏོང་འཆར་ངོས་ལེན་མ་བྱས་པས་ཅི་ཡང་བསྒྱུར་མེད།
desk-schedule-unknown = ནུས་ལྡན་གྱི་གཏོང་འཆར་དེ་མེད།
