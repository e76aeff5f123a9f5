"""The working-day calendar: weekends, public holidays and make-up working days.

Every deadline the product states in working days (工作日) is counted here. The State
Council's holiday arrangements ship as data (`data/cn-YYYY.csv`); the administrator may take
a year over and edit it, after which the database rows for that year are the truth.
"""
