## Machine-drafted Tibetan: to be reviewed by a native speaker before production.
## Pollution categories, their groups, and case states.

group-air = 🌫️ རླུང་ཁམས།
group-water = 💧 ཆུ།
group-waste = 🗑️ ས་ཞིང་དང་གད་སྙིགས།
group-noise = 🔊 སྒྲ་ཟིང་།
group-ecology = 🏔️ སྐྱེ་ཁམས་གཏོར་བཤིག
group-other = ❓ གཞན།

category-air-dust = བྱེ་མ་དང་ཐལ་རྡུལ།
category-air-construction = འཛུགས་སྐྲུན་ས་ཁུལ་གྱི་ཐལ་རྡུལ།
category-air-burning = མེ་སྲེག་དང་དུ་བ། (བསང་གི་དུ་བ་ཚུད།)
category-air-vehicle = རླངས་འཁོར་གྱི་དུ་བ།
category-water-outfall = བཙོག་ཆུ་ཕྱིར་གཏོང་ཁ།
category-water-river = ཆུ་བོ་དང་མཚོའི་བཙོག་བཀོག
category-water-drinking = འཐུང་ཆུའི་ཆུ་མགོ།
category-waste-household = ཁྱིམ་ཚང་གི་གད་སྙིགས་དང་སླ་ཤོག (དཀར་པོའི་བཙོག་བཀོག)
category-waste-hazardous = ཉེན་ཁ་ཅན་གྱི་གད་སྙིགས།
category-waste-manure = ཕྱུགས་དང་བྱ་ཕྱུགས་ཀྱི་ལྕི་བ།
category-waste-kitchen = ཟ་ཁང་དང་ཐབ་ཚང་གི་ཟས་ལྷག
category-noise = སྒྲ་ཟིང་གིས་མི་ལ་གནོད་པ།
category-ecology-reserve = རང་བྱུང་སྲུང་སྐྱོབ་ས་ཁུལ་ལ་གཏོར་བཤིག
category-ecology-wildlife = རི་དྭགས་ལ་གནོད་འཚེ།
category-other = གཞན།

status-new = གསར་དུ་ཕུལ་ཟིན།
status-assigned = མངགས་ཟིན།
status-acknowledged = ཐག་གཅོད་བྱེད་བཞིན་པ།
status-resolved = ཐག་གཅོད་ཟིན།
status-closed = མཇུག་བསྒྲིལ་ཟིན།
status-reopened = བསྐྱར་དུ་ཁ་ཕྱེ་ཟིན།
status-rejected = དང་ལེན་མ་བྱས།
status-merged = ཟླ་སྒྲིལ་བྱས་ཟིན།
