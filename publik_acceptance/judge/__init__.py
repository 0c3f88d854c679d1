"""Judges: facts -> what they mean. Preflight judges (notfound, preflight) and the parity judge return a
Verdict (expected / actual / to do, checks.py); postdeploy judges (page, expectations: tenant and database)
return a Judgement (ok / pending / wrong) that the poll loop (postdeploy) waits on and waiting concludes.
Also the gate and the run's deadline. No judge touches the network: each is unit-tested on facts built by hand.
"""
