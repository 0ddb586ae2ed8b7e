from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "kortfaktura.payments"
    verbose_name = "Betalningar och kundreskontra"
