from datetime import timedelta

import pytest

from core.durations import human


@pytest.mark.parametrize("minutes, text", [(5, "5 min"), (60, "1 h"), (90, "1 h 30 min"), (180, "3 h"), (1440, "24 h")])
def test_durations_read_as_people_say_them(minutes, text):
    assert human(timedelta(minutes=minutes)) == text
