-- one hot enrollment: every client pays one cent into the same row
SELECT enrollment.apply_payment('hot-user', 'hot-course', 0.01);
