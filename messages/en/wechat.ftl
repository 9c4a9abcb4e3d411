## WeChat: choices as a numbered list where menu messages are not available; the hint that ends a template message.
choice-reply-with-number = Reply with the number of your choice.
notice-hint = Send this account any message to see the details and act on them.
