## 微信：菜单消息不可用时，选项以编号列表显示；模板消息末尾的提示。
choice-reply-with-number = 请回复选项前的数字。
notice-hint = 回复本公众号任意消息即可查看详情并处理。
