"""Measures of how far a saliency map can be trusted: faithfulness (deletion
and insertion curves), sanity (model randomisation, completeness), ground
truth (the mass and AUROC of named groups of positions) and how alike two
maps are (rank correlation)."""
from saliency_ext.metrics.correlation import (  # NOQA
    mean_rank_correlation, nanmean, rank_correlation, rank_correlations)
from saliency_ext.metrics.faithfulness import (  # NOQA
    CURVES, TOLERANCE, Curves, area, deletion_insertion, rankings)
from saliency_ext.metrics.groups import (  # NOQA
    CatalogueGroup, Group, auroc, functional_groups, group_auroc, group_mass,
    match_smarts, molecule_of, occurrences, parse_groups, real_positions)
from saliency_ext.metrics.sanity import (  # NOQA
    RANDOM_MODEL_THRESHOLD, completeness_error, randomized_parameters)
