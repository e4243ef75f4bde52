//go:build !linux

package main

import "time"

func fineTimerSlack() {}

func nanosleep(d time.Duration) { time.Sleep(d) }
