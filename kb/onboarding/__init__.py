"""Onboarding: paths of live cards (paths), reading that knows revisions (reading), check questions
(questions), progress and the lead's report (progress, report), pushed must-acknowledge items (pushes),
reminders (reminders), and the pages (views)."""
