"""Triage: the workflow machine, officers, missions, the queue, and case actions.

Every action checks who may do it and writes its audit entry here, so the
entry points (CLI, web) only ask and print.
"""
