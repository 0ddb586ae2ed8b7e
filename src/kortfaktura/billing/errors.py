"""What billing answers when a request cannot be carried out."""


class BillingError(Exception):
    """A billing request that cannot be carried out; the message is Swedish and actionable."""


class UsageError(BillingError):
    """The request itself is wrong (a period, an option, a date): the command line exits with 2."""
