## Pollution categories, their groups, and case states.

group-air = 🌫️ Air
group-water = 💧 Water
group-waste = 🗑️ Soil and waste
group-noise = 🔊 Noise
group-ecology = 🏔️ Ecological damage
group-other = ❓ Other

category-air-dust = Dust and sand
category-air-construction = Construction dust
category-air-burning = Burning and smoke (incl. sang incense smoke)
category-air-vehicle = Vehicle exhaust
category-water-outfall = Sewage outfall
category-water-river = River or lake pollution
category-water-drinking = Drinking-water source
category-waste-household = Household rubbish and plastic ("white pollution")
category-waste-hazardous = Hazardous waste
category-waste-manure = Livestock manure
category-waste-kitchen = Kitchen waste
category-noise = Noise
category-ecology-reserve = Damage to a nature reserve
category-ecology-wildlife = Harm to wildlife
category-other = Other

status-new = submitted
status-assigned = assigned
status-acknowledged = in progress
status-resolved = resolved
status-closed = closed
status-reopened = reopened
status-rejected = rejected
status-merged = merged
