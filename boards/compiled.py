"""ORM reads compiled to SQL once per process and run many times with new parameters.

Django compiles a queryset to SQL every time it is evaluated. For the reads every request makes
(the project and the user's role) and every write makes (the board's columns and counts), that
compiling took more CPU than PostgreSQL took to answer: bench/results/orm_reads.txt. A
CompiledRead keeps the read written in the ORM, compiles it once with marker values in place of
its parameters, and on each call binds the real values and builds the instances as Django's
ModelIterable does (select_related objects and annotations included).

Only for reads whose SQL does not depend on their parameters' values (no `__in` lists, no None
that turns `=` into `IS NULL`): parameters are plain integers here.
"""

import itertools
from collections.abc import Callable

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators

# Integers no id takes, one per parameter: found again by value in the compiled parameter list.
_MARKER_BASE = -(2**62)


class CompiledRead:
    def __init__(self, build: Callable[..., QuerySet], *names: str):
        self.build = build
        self.names = names
        self._compiled = None

    def _compile(self):
        markers = {name: _MARKER_BASE - index for index, name in enumerate(self.names)}
        queryset = self.build(**markers)
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()  # also fills compiler.select, klass_info, annotation_col_map
        by_marker = {marker: name for name, marker in markers.items()}
        slots = [(position, by_marker[value]) for position, value in enumerate(params) if value in by_marker]
        if {name for _, name in slots} != set(self.names):
            raise ValueError(f"{self.names} do not all reach the SQL of {queryset.query}")
        klass_info, select = compiler.klass_info, compiler.select
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        self._compiled = (
            queryset.db,
            sql,
            list(params),
            slots,
            compiler,
            klass_info["model"],
            (start, end),
            [column[0].target.attname for column in select[start:end]],
            get_related_populators(klass_info, select, queryset.db),
            dict(compiler.annotation_col_map or {}),
        )
        return self._compiled

    def __call__(self, **values: int) -> list:
        """The instances the queryset built with these values would give, from one query."""
        db, sql, params, slots, compiler, model, (start, end), init_list, related, annotations = (
            self._compiled or self._compile()
        )
        params = params.copy()
        for position, name in slots:
            params[position] = int(values[name])
        with connections[db].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        objects = []
        for row in compiler.results_iter(results=itertools.repeat(rows, 1)):
            obj = model.from_db(db, init_list, row[start:end])
            for populator in related:
                populator.populate(row, obj)
            for attr, position in annotations.items():
                setattr(obj, attr, row[position])
            objects.append(obj)
        return objects
