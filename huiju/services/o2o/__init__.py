"""Community services O2O (社区服务 O2O): the use cases of residents and their families, providers and
the platform operator.

::

    policy       the platform's rules (time limits, rating threshold, credit validity)
    access       who sees which orders: a provider its own, a family member the linked parent's
    family       linking a relative to an elderly parent with the parent's consent (SMS code)
    credit       the service credit (服务券): entitlement, monthly top-ups, spend, return, statement
    catalog      services by category, providers, prices, areas, free slots; a provider's own
    orders       placing, following, cancelling and confirming an order; its process data
    dispatch     a provider's answers and steps; the operator's dispatch
    lifecycle    the engine listener: order timeline and status, credit granted by an approval
    payments     the payment platform's callbacks
    feedback     ratings (one per order), provider flags, complaints
    settlement   the monthly settlement per provider, published once, exported as CSV and XLSX
    providers    the operator's onboarding, areas and suspension of providers
"""
