## Pollution categories, their groups, and case states.

group-air = 🌫️ 大气
group-water = 💧 水
group-waste = 🗑️ 土壤与固废
group-noise = 🔊 噪声
group-ecology = 🏔️ 生态破坏
group-other = ❓ 其他

category-air-dust = 扬沙扬尘
category-air-construction = 施工扬尘
category-air-burning = 焚烧与烟雾（含煨桑烟雾）
category-air-vehicle = 机动车尾气
category-water-outfall = 排污口污水
category-water-river = 河流湖泊污染
category-water-drinking = 饮用水水源地
category-waste-household = 生活垃圾与白色污染
category-waste-hazardous = 危险废物
category-waste-manure = 畜禽粪便
category-waste-kitchen = 餐厨垃圾
category-noise = 噪声扰民
category-ecology-reserve = 自然保护区破坏
category-ecology-wildlife = 野生动物伤害
category-other = 其他

status-new = 新提交
status-assigned = 已派发
status-acknowledged = 处理中
status-resolved = 已办结
status-closed = 已关闭
status-reopened = 已重新打开
status-rejected = 不予受理
status-merged = 已合并
