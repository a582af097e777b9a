"""The environment variables that point the course at its data, each named once (read by :mod:`coursework.datasets`,
the grader's options and its sandbox). A module of constants only: the grader's command line imports it at once."""

ENV_DIR = "CNN_COURSE_DATA"  # the folder of the course's data sets
ENV_OFFLINE = "CNN_COURSE_OFFLINE"  # set: never download a data set
ENV_FETCH = "CNN_COURSE_FETCH"  # the command that fetches the data sets here (the student Makefile: make data)
