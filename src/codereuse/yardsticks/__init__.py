"""The two references every result is read against: the best learned lexical floor
(:mod:`codereuse.data.card`) and the frozen pre-trained model (:mod:`.frozen`), and the verdict
that says whether a task separates them (:mod:`.verdict`)."""
