"""Neural audio codecs sharing one interface (:class:`~audiokit.models.codec.base.Codec`)."""
