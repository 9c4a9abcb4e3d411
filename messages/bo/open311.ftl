## Machine-drafted Tibetan: to be reviewed by a native speaker before production.
## Open311 GeoReport v2 (/open311/v2/): what partner systems and their users read.

open311-status-new = དང་ལེན་བྱས་ཟིན། { $cell } ལ་སྤྲོད་བཞིན་ཡོད།
open311-status-assigned = { $cell } ལ་སྤྲད་ཟིན། དྲ་མིག་དོ་དམ་པས་ངོས་ལེན་བྱེད་རྒྱུར་སྒུག་བཞིན་ཡོད།
open311-status-acknowledged = { $cell } ཡིས་ངོས་ལེན་བྱས་ཟིན། ཐག་གཅོད་བྱེད་བཞིན་ཡོད།
open311-status-resolved = { $cell } ཡིས་གནད་དོན་ཐག་གཅོད་བྱས་ཟིན་ཞེས་སྙན་ཞུ་བྱས། སྙན་སྐུལ་བར་ངོས་འཛིན་ཞུ་བཞིན་ཡོད།
open311-status-closed = མཇུག་སྒྲིལ་ཟིན། གནད་དོན་ཐག་གཅོད་བྱས་ཟིན།
open311-status-reopened = སྙན་སྐུལ་བས་གནད་དོན་ཐག་མ་ཆོད་ཅེས་བཤད་པས་བསྐྱར་དུ་ཁ་ཕྱེ་ཟིན། ད་དུང་ { $cell } ཡིས་ཐག་གཅོད་བྱེད།
open311-status-rejected = ཐག་གཅོད་མ་བྱས་པར་མཇུག་སྒྲིལ་ཟིན། ཅུས་འདིའི་འགན་ཁུར་མིན་པའམ། ཆ་འཕྲིན་མི་འདང་བ།
open311-status-merged = རེ་ཞུ་ { $number } དང་བསྐྱར་ཟློས་ཡིན་པས་ཟླ་སྒྲིལ་བྱས་ནས་མཇུག་སྒྲིལ་ཟིན།
open311-notice-new = { $cell } ཀྱི་དྲ་མིག་དོ་དམ་པར་སྤྲད་ཟིན། { $due } ཡི་སྔོན་ལ་ངོས་ལེན་བྱེད་དགོས།
open311-notice-joined = ས་གནས་གཅིག་པར་མཇུག་མ་སྒྲིལ་བའི་རེ་ཞུ་ཞིག་ཡོད་པས། རེ་ཞུ་འདི་རེ་ཞུ་ { $number } ནང་དུ་ཟླ་སྒྲིལ་བྱས་ཟིན།
open311-attribute-emergency = ད་ལྟ་མི་ལ་ཉེན་ཁ་ཡོད་དམ། ཡང་ན་བཙོག་བཀོག་ཁྱབ་བཞིན་ཡོད་དམ།
open311-value-yes = ཡིན། ཛ་དྲག་གནས་ཚུལ།
open311-value-no = མིན།

open311-error-api-key = api_key མེད་པའམ། ནོར་བའམ། ཕྱིར་བསྡུས་ཟིན། ཁོར་ཡུག་ཅུས་ལ་ལྡེ་མིག་ཞིག་ཞུ་རོགས།
open311-error-service-code = service_code "{ $code }" ངོས་འཛིན་མ་ཐུབ། ཨང་རྟགས་ཡོངས་རྫོགས་ GET services.json ནས་ལྟ་རོགས།
open311-error-lat-long = lat དང་ long ངེས་པར་དུ་དགོས། (WGS-84 ཚད་གཞི་ཐོག lat -90 ནས་ 90 བར། long -180 ནས་ 180 བར།) ཞབས་ཞུ་འཕྲུལ་ཆས་འདིས་ address_string དང་ address_id འཚོལ་ཞིབ་མི་བྱེད།
open311-error-outside = lat/long གིས་སྟོན་པའི་ས་གནས་དེ་ཅུས་འདིའི་ཞབས་ཞུའི་ཁྱབ་ཁོངས་སུ་མི་འདུག འཕྲེད་ཐིག་དང་གཞུང་ཐིག་ཞིབ་བཤེར་བྱེད་རོགས། (WGS-84 ཡིན་དགོས། GCJ-02 མིན།)
open311-error-description = description ཡིག་འབྲུ་ { $min } ནས་ { $max } བར་དགོས། གནད་དོན་ཅི་ཡིན་པ་དང་ས་གནས་གང་དུ་ཡིན་པ་འབྲི་རོགས།
open311-error-invalid = རེ་ཞུ་འདི་གནས་སྟངས་འདི་ལྟར་འབུལ་མ་ཐུབ། service_code དང་ description། lat། long བཅས་ཞིབ་བཤེར་བྱེད་རོགས།
open311-error-rate-limited = འབུལ་མཁན་འདིས་ཆུ་ཚོད་གཅིག་གི་ནང་དུ་རེ་ཞུ་ { $limit } ཕུལ་ཟིན། ཅུང་ཙམ་སྒུག་རོགས། མི་རེ་རེའི་རང་གི་ account_id འམ་ device_id བསྐུར་རོགས།
open311-error-too-large = རེ་ཞུའི་ནང་དོན་ཡིག་ཚིགས་ { $limit } ལས་བརྒལ་འདུག GeoReport v2 ཡི་ཚད་གཞི་ཁོ་ན་བསྐུར་རོགས།
open311-error-field = ཚད་གཞི་ { $field } ཡི་རྣམ་གཞག་ནོར་འདུག་གམ། ཡང་ན་ཡིག་འབྲུ་ { $max } ལས་བརྒལ་འདུག
open311-error-date = { $field } ནི་དུས་ཁུལ་ཅན་གྱི་ W3C ཚེས་གྲངས་དང་དུས་ཚོད་ཡིན་དགོས། དཔེར་ན། 2026-11-30T09:00:00+08:00
open311-error-date-order = end_date ནི་ start_date ལས་སྔ་བ་འདུག
open311-error-date-span = start_date ནས་ end_date བར་ཉིན་ { $days } ལས་བརྒལ་མི་ཆོག
open311-error-status = status ནི་ open དང་ closed ཡང་ན་གཉིས་ཀ་ཚེག་བསྐུངས་ (,) ཀྱིས་ཁ་ཕྱེ་བ་ཡིན་དགོས།
open311-error-request-not-found = "{ $id }" ཞེས་པའི་རེ་ཞུ་མི་འདུག service_request_id ཞིབ་བཤེར་བྱེད་རོགས།
open311-error-token-not-found = ལྡེ་རྟགས་ "{ $token }" ཡོད་པའི་རེ་ཞུ་མི་འདུག ལྡེ་རྟགས་ནི་རེ་ཞུ་འབུལ་སྐབས་ཕྱིར་སློག་བྱེད།
