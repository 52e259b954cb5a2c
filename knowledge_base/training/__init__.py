"""Training courses: Shared courses for member staff: lessons, quizzes, certificates, reports."""
