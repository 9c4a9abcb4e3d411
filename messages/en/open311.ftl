## Open311 GeoReport v2 (/open311/v2/): what partner systems and their users read.

open311-status-new = Received; being sent to { $cell }.
open311-status-assigned = Sent to { $cell }; waiting for its supervisor to acknowledge it.
open311-status-acknowledged = { $cell } has acknowledged the request and is handling it.
open311-status-resolved = { $cell } reports the problem dealt with; the reporters are asked to confirm.
open311-status-closed = Closed: the problem has been dealt with.
open311-status-reopened = A reporter said the problem is not fixed: reopened, with { $cell } again.
open311-status-rejected = Closed without action: not a matter for this bureau, or too little to go on.
open311-status-merged = Closed as a duplicate of request { $number }.
open311-notice-new = Sent to the supervisor of { $cell }, who must acknowledge it by { $due }.
open311-notice-joined = An open request at the same place covers this: it joined request { $number }.
open311-attribute-emergency = Is someone in danger, or is harm spreading right now?
open311-value-yes = Yes, an emergency
open311-value-no = No

open311-error-api-key = The api_key is missing, unknown or revoked. Ask the bureau for a key.
open311-error-service-code = Unknown service_code "{ $code }". GET services.json lists the codes.
open311-error-lat-long = lat and long are required, as WGS-84 decimal degrees (lat -90 to 90, long -180 to 180). This server does not look up address_string or address_id.
open311-error-outside = The point lat/long is outside the area this bureau serves. Check the coordinates (WGS-84, not GCJ-02).
open311-error-description = description must be { $min } to { $max } characters: say what is wrong and where.
open311-error-invalid = The request could not be filed as given. Check service_code, description, lat and long.
open311-error-rate-limited = This submitter filed { $limit } requests in the last hour. Wait before the next, and send each person's own account_id or device_id.
open311-error-too-large = The request body is larger than { $limit } bytes. Send only the GeoReport v2 fields.
open311-error-field = The parameter { $field } is malformed or longer than { $max } characters.
open311-error-date = { $field } must be a W3C date and time with a zone, e.g. 2026-11-30T09:00:00+08:00.
open311-error-date-order = end_date is earlier than start_date.
open311-error-date-span = start_date to end_date may span at most { $days } days.
open311-error-status = status must be open, closed, or both separated by a comma.
open311-error-request-not-found = There is no request "{ $id }". Check the service_request_id.
open311-error-token-not-found = No request has the token "{ $token }". A token is returned when a request is posted.
