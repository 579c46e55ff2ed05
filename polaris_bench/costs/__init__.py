"""What a run costs: the price table (``prices``) and the estimate before a run
(``estimate``); the recorded cost after a run is a store query (``store.costs``)."""
