# Photos that follow their notice: they were sent on another channel and are now downloaded.
case-photos =
    { $kind ->
        [resolution] 📷 案件 { $number } 办结照片
       *[report] 📷 案件 { $number } 的现场照片（{ $count } 张）
    }
