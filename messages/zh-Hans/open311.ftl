## Open311 GeoReport v2（/open311/v2/）：合作系统及其用户看到的文字。

open311-status-new = 已受理，正在转交{ $cell }。
open311-status-assigned = 已转交{ $cell }，等待网格监督员确认。
open311-status-acknowledged = { $cell }已确认，正在处理。
open311-status-resolved = { $cell }报告问题已处理，正在请举报人确认。
open311-status-closed = 已办结：问题已处理。
open311-status-reopened = 举报人反映问题未解决，已重新打开，仍由{ $cell }处理。
open311-status-rejected = 不予处理后关闭：不属本局职责，或信息不足。
open311-status-merged = 与请求 { $number } 重复，已合并关闭。
open311-notice-new = 已转交{ $cell }的网格监督员，须在 { $due } 前确认。
open311-notice-joined = 同一地点已有未办结的请求，本请求已并入请求 { $number }。
open311-attribute-emergency = 现在是否有人身危险，或污染正在扩散？
open311-value-yes = 是，紧急情况
open311-value-no = 否

open311-error-api-key = api_key 缺失、无效或已吊销。请向生态环境局申请密钥。
open311-error-service-code = 未知的 service_code“{ $code }”。可通过 GET services.json 查看所有代码。
open311-error-lat-long = 必须提供 lat 和 long（WGS-84 十进制度数，lat 为 -90 至 90，long 为 -180 至 180）。本服务器不解析 address_string 或 address_id。
open311-error-outside = lat/long 所指地点不在本局的服务范围内。请检查坐标（应为 WGS-84，而非 GCJ-02）。
open311-error-description = description 须为 { $min } 至 { $max } 个字符：写明出了什么问题、在哪里。
open311-error-invalid = 请求无法按所给内容提交。请检查 service_code、description、lat 和 long。
open311-error-rate-limited = 该提交人一小时内已提交 { $limit } 条请求。请稍后再提交，并为每个人传送其自己的 account_id 或 device_id。
open311-error-too-large = 请求正文超过 { $limit } 字节。请只传送 GeoReport v2 规定的参数。
open311-error-field = 参数 { $field } 格式错误或超过 { $max } 个字符。
open311-error-date = { $field } 须为带时区的 W3C 日期时间，例如 2026-11-30T09:00:00+08:00。
open311-error-date-order = end_date 早于 start_date。
open311-error-date-span = start_date 至 end_date 的跨度不得超过 { $days } 天。
open311-error-status = status 须为 open、closed，或用逗号分隔两者。
open311-error-request-not-found = 没有编号为“{ $id }”的请求。请检查 service_request_id。
open311-error-token-not-found = 没有请求使用令牌“{ $token }”。令牌在提交请求时返回。
