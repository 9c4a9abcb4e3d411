# Photos that follow their notice: they were sent on another channel and are now downloaded.
case-photos =
    { $kind ->
        [resolution] 📷 དོན་རྐྱེན་ { $number } ཐག་གཅོད་ཚར་བའི་པར།
       *[report] 📷 དོན་རྐྱེན་ { $number } གི་ས་གནས་ཀྱི་པར། (པར་གྲངས་ { $count })
    }
