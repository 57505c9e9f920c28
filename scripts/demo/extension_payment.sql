-- The same payment through the extension: one call, under a row lock.
SELECT enrollment.apply_payment('demo-user', 'demo-course', 1.00);
