"""The view model: a :class:`~viewmodel.views.ViewState` in, a computed
:class:`~viewmodel.views.View` out (tables, classes, labels, the map spec), in the view's
language (:mod:`viewmodel.i18n`). No streamlit, no drawing: the dashboard, the folium map, the
static maps and the briefs all read the same View.
"""
