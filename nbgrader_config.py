# nbgrader's configuration for this course (run nbgrader from the repository root).
c = get_config()  # noqa: F821  (provided by nbgrader)

c.CourseDirectory.course_id = "cnn-course"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# `nbgrader validate` runs notebooks with Execute; training cells take a while.
c.ExecutePreprocessor.timeout = 1800

# `nbgrader autograde` (and the formgrader's button): the autograder's pipeline, not nbgrader's Execute, runs
# each notebook, scores it outside the student's kernel and writes its points into the grade cells
# (autograder/course/nbgrader_grades.py). `python -m autograder autograde` passes the same on the command line.
from autograder.course.nbgrader_grades import autograde_preprocessors  # noqa: E402

c.Autograde.autograde_preprocessors = autograde_preprocessors()
c.OverwriteCells.add_missing_cells = True  # a deleted grade cell comes back, with the pipeline's points

