# Photos that follow their notice: they were sent on another channel and are now downloaded.
case-photos =
    { $kind ->
        [resolution] 📷 The photo of the resolution of case { $number }
       *[report] 📷 Photos of case { $number } from the place ({ $count })
    }
