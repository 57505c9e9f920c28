-- What the application used to do: read the balance, add in the client,
-- write it back.  Two clients that read the same balance lose a payment.
SELECT amount_paid FROM naive_enrollments
 WHERE user_id = 'demo-user' AND course_id = 'demo-course' \gset
UPDATE naive_enrollments SET amount_paid = :amount_paid + 1.00
 WHERE user_id = 'demo-user' AND course_id = 'demo-course';
