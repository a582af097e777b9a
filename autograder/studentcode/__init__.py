"""studentcode"""
