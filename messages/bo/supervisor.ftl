## Machine-drafted Tibetan: to be reviewed by a native speaker before production.
## What supervisors read about cases.

sv-new-case =
    { $urgent ->
        [yes] 🚨 ཛ་དྲག་དོན་རྐྱེན་ { $number }
       *[no] 🆕 དོན་རྐྱེན་གསར་པ་ { $number }
    }
    རིགས། { $category }
    ས་གནས། { $cell }
    འགན་འཁུར་དྲ་མིག { $responsible }
    འགྲེལ་བཤད། { $description }
    སྙན་སྐུལ་བ། { $reporter }
    པར་གྲངས། { $photos }
    { $ack_due } སྔོན་ལ་དང་ལེན་གཏན་འཁེལ་གནང་རོགས།
sv-reporter-anonymous = མིང་གསང་།
sv-case-joined =
    ➕ དོན་རྐྱེན་ { $number } ལ་སྡོད་དམངས་གཞན་ཞིག་གིས་ཀྱང་སྙན་སྐུལ་བྱས་སོང་། (ད་ལྟ་སྙན་སྐུལ་བ་ཁྱོན་ { $reporters } ཡོད།)
    ཁ་སྣོན་འགྲེལ་བཤད། { $description }
    སྙན་སྐུལ་བ། { $reporter }
sv-button-ack = ✅ དང་ལེན་གཏན་འཁེལ།
sv-button-ask = 💬 སྙན་སྐུལ་བར་འདྲི་བ།
sv-button-transfer = ↪️ གཞན་ལ་སྤོ་བ།
sv-button-resolve = 🏁 ཐག་གཅོད་ཚར།
sv-button-reject = 🚫 དང་ལེན་མི་བྱེད།
