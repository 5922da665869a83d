"""What recovery's money columns share."""

MONEY = {"max_digits": 12, "decimal_places": 2}
