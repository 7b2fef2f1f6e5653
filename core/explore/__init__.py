"""Looking at a project's images before training on them: a 2-D map of their features, search by
words or by example (`core.explore.search`). Qt-free, like the rest of core."""
