"""A minimal Django project serving the released django-helpdesk, for `python -m bench helpdesk`.

It runs only inside django-helpdesk's own virtual environment (.bench/django-helpdesk-venv), never in the
project's; nothing here is imported by CX Recovery or by the bench process itself.
"""
