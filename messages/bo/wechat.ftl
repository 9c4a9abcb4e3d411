## Machine-drafted Tibetan: to be reviewed by a native speaker before production.
## WeChat: choices as a numbered list where menu messages are not available; the hint that ends a template message.
choice-reply-with-number = ཁྱེད་ཀྱིས་འདེམས་པའི་གདམ་ཀའི་ཨང་གྲངས་ལན་དུ་བསྐུར་རོགས།
notice-hint = ཞིབ་ཕྲ་ལྟ་བ་དང་ལས་དོན་སྒྲུབ་པར་ང་ཚོ་ལ་འཕྲིན་གང་རུང་ཞིག་བསྐུར་རོགས།
