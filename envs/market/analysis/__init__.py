"""What is measured on a market or a day: calibration (:mod:`.calibration`), impact
(:mod:`.impact`), microstructure analytics (:mod:`.microstructure`) and stylised facts
(:mod:`.stylized_facts`). Builds on :mod:`..simulation` and :mod:`..data`."""
