"""One module per recipe, on a small shared base.

``base`` holds what every recipe answers alike (``Recipe``, and ``ItemItemRecipe`` for those
scoring a history through an item-item matrix); ``personalization`` holds user-personalization
and personalized-ranking, ``similar_items``, ``popularity_count`` and ``trending_now`` one
recipe each; ``registry`` maps Personalize's recipe names to them and loads saved models.
"""
