from django.apps import AppConfig


class CardportalConfig(AppConfig):
    name = "cardportal"
    verbose_name = "门户公共"
