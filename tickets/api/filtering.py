"""The API's filter backend: django-filter, with an empty filter value refused instead of silently ignored."""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError


class ApiFilterBackend(DjangoFilterBackend):
    """`?customer=` (present, empty) is a 400: the schema declares the filter's type, and "" is not an integer.
    The browser queue shares the FilterSets but not this backend, so its empty form fields still mean "any"."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            empty = {
                name: ["Give a value or leave the parameter out."]
                for name, declared in filterset_class.base_filters.items()
                # an empty text filter is a valid (empty) string and means "any", as in the browser
                if not isinstance(declared, django_filters.CharFilter)
                and name in request.query_params
                and not any(v.strip() for v in request.query_params.getlist(name))
            }
            if empty:
                raise ValidationError(empty)
        return super().filter_queryset(request, queryset, view)
