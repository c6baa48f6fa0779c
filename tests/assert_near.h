/* A floating-point assertion for the cmocka tests (a header of tests, not a test): cmocka 1.1 has
 * none. Include after <cmocka.h> and <math.h>. */
#ifndef CGALR_TESTS_ASSERT_NEAR_H
#define CGALR_TESTS_ASSERT_NEAR_H

#define assert_near(a, b, tol)                                                                 \
    do {                                                                                       \
        double a_ = (a), b_ = (b);                                                             \
        if (!(fabs(a_ - b_) <= (tol)))                                                         \
            fail_msg("%s = %.17g, expected %.17g within %g", #a, a_, b_, (double)(tol));       \
    } while (0)

#endif
